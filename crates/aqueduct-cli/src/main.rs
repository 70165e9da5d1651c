//! The `aqueduct` command.
//!
//! - `aqueduct demo [--transport mem|tcp|unix|direct]`: runs the helloworld Greeter
//!   server and client in one process, over the in-memory pipe by default, and
//!   prints each call's result;
//! - `aqueduct serve --port P`: runs the gRPC interop test service and the
//!   notes example service on `127.0.0.1:P`, with health and reflection, so
//!   `grpcurl` and `buf curl` can explore it at once; SIGINT or SIGTERM
//!   drains it (health `NOT_SERVING`, GOAWAY, calls in flight finish) and it
//!   exits 0;
//! - `aqueduct serve --handoff SOCKET`: the same, serving connections handed
//!   over on a Unix socket;
//! - `aqueduct serve --tls-cert F --tls-key F [--client-ca F]`, in any of
//!   these modes: over TLS, mutual TLS with `--client-ca` (see [`tls`]);
//! - `aqueduct route --service NAME=SOCKET ...`: a front that hands each TCP
//!   connection to the backend serving the service its first request calls,
//!   and each TLS connection (`--server-name NAME=SOCKET`) to the backend for
//!   the server name its ClientHello names, without terminating TLS;
//! - `aqueduct bench`: a load generator for any gRPC server, over TLS too.

mod bench;
mod lint;
mod raw;
mod tls;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "aqueduct", version, about = "Aqueduct gRPC framework tools")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Greeter server and client in one process, one call of each kind.
    Demo {
        /// How the client reaches the server: the in-process memory pipe (no port,
        /// no socket path), TCP on 127.0.0.1, a Unix socket in a temporary
        /// directory, or the direct in-process carrier (no HTTP/2).
        #[arg(long, value_enum, default_value_t = Transport::Mem)]
        transport: Transport,
    },
    /// Serve the gRPC interop test service (grpc.testing.TestService) and the
    /// notes example (notes.v1.Notes), with health checking (grpc.health.v1)
    /// and server reflection (grpc.reflection.v1 and v1alpha). SIGINT or
    /// SIGTERM drains it: health turns NOT_SERVING, calls in flight finish.
    /// Over TLS with --tls-cert and --tls-key, mutual TLS with --client-ca.
    Serve {
        /// TCP port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        #[command(flatten)]
        tls: tls::ServeTls,
        /// Server threads, each with its own single-threaded runtime and listener
        /// (default: the CPUs this process may run on).
        #[arg(long)]
        threads: Option<usize>,
        /// Serve connections handed over on this Unix socket (by `aqueduct
        /// route`) instead of listening on a TCP port.
        #[arg(long, value_name = "SOCKET", conflicts_with_all = ["port", "threads"])]
        handoff: Option<PathBuf>,
        /// Mount only this service (repeat for more): grpc.testing.TestService
        /// or notes.v1.Notes. Default: both.
        #[arg(long = "service", value_name = "NAME")]
        services: Vec<String>,
        /// Restartable: take the listening socket over from the `aqueduct
        /// serve` running with this control socket (if any), then keep the
        /// control socket for the next one. Start a new process with the same
        /// arguments to restart with no connection refused: the old one drains
        /// and exits once the new one serves.
        #[arg(long, value_name = "SOCKET", conflicts_with_all = ["handoff", "threads"])]
        control: Option<PathBuf>,
    },
    /// Route TCP connections to backend processes by the gRPC service (or the
    /// authority) their first request names, handing each live connection
    /// over (SCM_RIGHTS) to the backend's `aqueduct serve --handoff SOCKET`.
    /// TLS connections on the same port are routed by the server name (SNI)
    /// of their ClientHello and handed over unterminated: the backend holds
    /// the certificate and terminates TLS itself.
    Route {
        /// TCP port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 50050)]
        port: u16,
        /// SERVICE=SOCKET: connections whose first request calls SERVICE go to
        /// the backend at SOCKET (repeat for more).
        #[arg(long = "service", value_name = "SERVICE=SOCKET", value_parser = route_pair)]
        services: Vec<(String, PathBuf)>,
        /// AUTHORITY=SOCKET: connections whose first request names AUTHORITY
        /// (host or host:port) go to the backend at SOCKET; services match first.
        #[arg(long = "authority", value_name = "AUTHORITY=SOCKET", value_parser = route_pair)]
        authorities: Vec<(String, PathBuf)>,
        /// NAME=SOCKET: TLS connections whose ClientHello names NAME (SNI;
        /// `*.example.com` for one label under example.com) go to the backend
        /// at SOCKET, which terminates TLS; a name no route matches is
        /// refused with an unrecognized_name alert (--authority and --service
        /// routes are for plaintext backends and are not tried) (repeat for
        /// more).
        #[arg(long = "server-name", value_name = "NAME=SOCKET", value_parser = route_pair)]
        server_names: Vec<(String, PathBuf)>,
        /// TLS connections that name no server (clients that dial an IP
        /// address) go to the backend at SOCKET; without it they are refused
        /// with a missing_extension alert.
        #[arg(long, value_name = "SOCKET")]
        without_server_name: Option<PathBuf>,
        /// How long a client has to send its first request or its whole
        /// ClientHello, in milliseconds.
        #[arg(long, default_value_t = 5000)]
        peek_timeout_ms: u64,
    },
    /// Load-test a gRPC server: calls/s, latency percentiles, errors by code.
    Bench(bench::BenchArgs),
    /// Lint .proto files: naming, versioning and API-shape rules, each with
    /// an id and why it matters. Exit code 1 on findings, 2 on errors.
    Lint(lint::LintArgs),
}

/// The byte transports `aqueduct demo` can run over.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Transport {
    /// The in-process memory pipe.
    Mem,
    /// TCP on 127.0.0.1.
    Tcp,
    /// A Unix socket.
    Unix,
    /// The direct carrier: calls without HTTP/2, in process.
    Direct,
}

/// Log lines on stderr, `info` and up unless `RUST_LOG` says otherwise:
/// refused TLS clients, failed certificate reloads, drains.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

fn main() -> ExitCode {
    init_logging();
    let result = match Args::parse().command {
        // Its own exit codes: 1 for findings, 2 when it cannot run.
        Command::Lint(args) => return lint::run(args),
        // Thread-per-core: the server brings its own runtimes.
        Command::Serve {
            port,
            control: Some(control),
            services,
            tls,
            ..
        } => block_on_current(serve_restartable(port, control, services, tls)),
        Command::Serve {
            port,
            threads,
            handoff: None,
            services,
            tls,
            ..
        } => serve(port, threads, &services, &tls),
        Command::Serve {
            handoff: Some(socket),
            services,
            tls,
            ..
        } => block_on_current(serve_handoff(socket, services, tls)),
        Command::Route {
            port,
            services,
            authorities,
            server_names,
            without_server_name,
            peek_timeout_ms,
        } => block_on_current(route(
            port,
            RouteTable {
                services,
                authorities,
                server_names,
                without_server_name,
            },
            Duration::from_millis(peek_timeout_ms),
        )),
        Command::Demo { transport } => block_on(None, demo(transport)),
        Command::Bench(b) => block_on(b.threads, bench::run(b)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `fut` on a work-stealing runtime with `threads` workers (default: one per
/// CPU this process may run on).
/// Runs `fut` on a single-threaded runtime: no task is ever woken on another
/// thread (the serving modes with one listener, and the router).
fn block_on_current(
    fut: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(fut)
}

fn block_on(
    threads: Option<usize>,
    fut: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder.build().context("cannot start the async runtime")?;
    runtime.block_on(fut)
}

async fn demo(transport: Transport) -> anyhow::Result<()> {
    use helloworld::pb::greeter_service_server::GreeterServiceServer;

    let server =
        aqueduct::Server::builder().add_service(GreeterServiceServer::new(helloworld::MyGreeter));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stopped = async {
        let _ = stop_rx.await;
    };
    // Kept until the end: the Unix socket lives in it.
    let mut socket_dir = None;
    let mut direct = None;
    let (uri, server) = match transport {
        Transport::Mem => {
            let name = format!("aqueduct-demo-{}", std::process::id());
            let listener = aqueduct::MemoryListener::bind(&name)
                .with_context(|| format!("cannot listen on mem://{name}"))?;
            let uri = format!("mem://{name}");
            let server = tokio::spawn(server.serve(listener).with_graceful_shutdown(stopped));
            (uri, server)
        }
        Transport::Tcp => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .context("cannot listen on 127.0.0.1:0")?;
            let addr = listener
                .local_addr()
                .context("cannot read the address of the listener on 127.0.0.1:0")?;
            let uri = format!("http://{addr}");
            let server = tokio::spawn(server.serve(listener).with_graceful_shutdown(stopped));
            (uri, server)
        }
        Transport::Unix => {
            let dir = TempDir::new("aqueduct-demo")?;
            let path = dir.0.join("greeter.sock");
            let listener = tokio::net::UnixListener::bind(&path)
                .with_context(|| format!("cannot listen on {}", path.display()))?;
            socket_dir = Some(dir);
            let uri = format!("unix:{}", path.display());
            let server = tokio::spawn(server.serve(listener).with_graceful_shutdown(stopped));
            (uri, server)
        }
        Transport::Direct => {
            let listener = aqueduct::DirectListener::new();
            direct = Some(listener.connector());
            let server = tokio::spawn(server.serve(listener).with_graceful_shutdown(stopped));
            (
                "the direct carrier (in process, no HTTP/2)".to_owned(),
                server,
            )
        }
    };
    println!("Greeter server listening on {uri}");
    let channel = match direct {
        Some(connector) => aqueduct::Channel::direct(connector),
        None => aqueduct::Channel::from_uri(&uri)?,
    };
    let lines = helloworld::run_client(channel)
        .await
        .context("demo client call failed");
    let _ = stop_tx.send(());
    server
        .await
        .context("server task failed")?
        .context("server failed")?;
    drop(socket_dir);
    for line in lines? {
        println!("{line}");
    }
    println!("all four call kinds succeeded; server shut down cleanly");
    Ok(())
}

/// A private directory removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(prefix: &str) -> anyhow::Result<Self> {
        use std::os::unix::fs::DirBuilderExt as _;
        let path = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("cannot create the directory {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const TEST_SERVICE: &str = "grpc.testing.TestService";
const NOTES_SERVICE: &str = "notes.v1.Notes";

/// The server `aqueduct serve` runs: the chosen services (both by default),
/// health (each SERVING) and reflection, so probes, `grpc_health_probe`,
/// `grpcurl` and `buf curl` work against it at once; over TLS if the flags
/// say so, their files loaded and checked here, before anything listens.
fn serve_builder(
    services: &[String],
    tls: &tls::ServeTls,
) -> anyhow::Result<aqueduct::ServerBuilder> {
    use interop::pb::test_service_server::TestServiceServer;
    if let Some(unknown) = services
        .iter()
        .find(|s| ![TEST_SERVICE, NOTES_SERVICE].contains(&s.as_str()))
    {
        anyhow::bail!(
            "unknown service {unknown}: aqueduct serve has {TEST_SERVICE} and {NOTES_SERVICE}"
        );
    }
    let wanted = |name: &str| services.is_empty() || services.iter().any(|s| s == name);
    let health = aqueduct::health::HealthReporter::new();
    let mut builder = aqueduct::Server::builder();
    if wanted(TEST_SERVICE) {
        builder = builder.add_service(TestServiceServer::new(interop::server::Interop));
        health.set_serving(TEST_SERVICE);
    }
    if wanted(NOTES_SERVICE) {
        builder = builder.add_service(notes::NoteStore::service());
        health.set_serving(NOTES_SERVICE);
    }
    if let Some(tls) = tls.load()? {
        builder = builder.tls(tls);
    }
    Ok(builder.add_health(health).add_reflection())
}

fn serve(
    port: u16,
    threads: Option<usize>,
    services: &[String],
    tls: &tls::ServeTls,
) -> anyhow::Result<()> {
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    // Only waits for the signal: the server threads bring their own runtimes.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Before the address is printed: from then on, SIGTERM drains.
    let stop = {
        let _in_runtime = runtime.enter();
        aqueduct::shutdown_signal()
    };
    let builder = serve_builder(services, tls)?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local_addr = listener.local_addr()?;
        println!("aqueduct serve{} listening on {local_addr}", tls.banner());
        eprintln!(
            "{threads} server threads, one single-threaded runtime each; Ctrl-C or SIGTERM stops"
        );
        builder
            .thread_per_core(threads)
            .serve(listener)
            .with_graceful_shutdown(async {
                stop.await;
                eprintln!("{DRAINING}");
            })
            .await
            .context("a server thread failed")
    })
}

/// What `aqueduct serve` prints (to stderr) when a signal starts its graceful
/// shutdown.
const DRAINING: &str = "aqueduct serve: stopping: health is NOT_SERVING, calls in flight finish";

/// `shutdown_signal`, saying on stderr when it has come.
async fn announced(stop: impl std::future::Future<Output = ()>) {
    stop.await;
    eprintln!("{DRAINING}");
}

/// `aqueduct serve --handoff SOCKET`: serves connections other processes hand
/// over, until Ctrl-C or SIGTERM; removes the socket file when it stops.
/// Over TLS, the connections handed over must be TLS from their first byte:
/// from a front that routes by the ClientHello and leaves it unread, not one
/// that has read an HTTP/2 request.
async fn serve_handoff(
    socket: PathBuf,
    services: Vec<String>,
    tls: tls::ServeTls,
) -> anyhow::Result<()> {
    let builder = serve_builder(&services, &tls)?;
    let stop = aqueduct::shutdown_signal();
    let listener = aqueduct_handoff::HandoffListener::bind(&socket)
        .with_context(|| format!("cannot listen for hand-offs on {}", socket.display()))?;
    println!(
        "aqueduct serve{} taking hand-offs on {}",
        tls.banner(),
        socket.display()
    );
    let served = builder
        .serve(listener)
        .with_graceful_shutdown(announced(stop))
        .await;
    let _ = std::fs::remove_file(&socket);
    served.context("server failed")
}

/// `aqueduct serve --control SOCKET`: serves one TCP listener, inherited from
/// the process holding the control socket or bound anew, until Ctrl-C, SIGTERM
/// or a successor takes it over; then drains and exits. TLS material is
/// loaded before taking over, so a successor with bad files fails and leaves
/// its predecessor serving.
async fn serve_restartable(
    port: u16,
    control: PathBuf,
    services: Vec<String>,
    tls: tls::ServeTls,
) -> anyhow::Result<()> {
    use aqueduct_handoff::PeerPolicy;
    use aqueduct_handoff::restart::{Handover, take_over};
    use std::os::fd::AsFd as _;

    let builder = serve_builder(&services, &tls)?;
    let stop_signal = aqueduct::shutdown_signal();
    let inherited = take_over(&control, &PeerPolicy::SameUser)
        .await
        .with_context(|| format!("taking over from {}", control.display()))?;
    let listener = match &inherited {
        Some(inherited) => inherited
            .listener(LISTENER_NAME)
            .with_context(|| format!("the listener handed over on {}", control.display()))?,
        None => {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            let listener = std::net::TcpListener::bind(addr)
                .with_context(|| format!("cannot listen on {addr}"))?;
            listener
                .set_nonblocking(true)
                .with_context(|| format!("cannot make the listener on {addr} non-blocking"))?;
            listener
        }
    };
    let addr = listener
        .local_addr()
        .context("cannot read the listener's address")?;
    // The same socket, kept to hand to the next process.
    let keep = listener
        .try_clone()
        .with_context(|| format!("cannot duplicate the listener on {addr}"))?;
    let listener = tokio::net::TcpListener::from_std(listener)
        .with_context(|| format!("cannot register the listener on {addr}"))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(builder.serve(listener).with_graceful_shutdown(async {
        let _ = stopped.await;
    }));
    println!("aqueduct serve{} listening on {addr}", tls.banner());
    if let Some(inherited) = inherited {
        inherited.ready().await.context("telling the predecessor")?;
    }
    let handover = Handover::bind(&control, PeerPolicy::SameUser)
        .with_context(|| format!("control socket {}", control.display()))?;
    let to_hand_over = [(LISTENER_NAME, keep.as_fd())];
    let handed_over = tokio::select! {
        () = announced(stop_signal) => false,
        handed = handover.wait_for_successor(&to_hand_over) => {
            handed.context("waiting for a successor")?;
            eprintln!("a successor serves {addr}: draining");
            true
        }
    };
    let _ = stop.send(());
    drop(keep);
    let served = server.await.context("server task failed")?;
    if !handed_over {
        let _ = std::fs::remove_file(&control);
    }
    served.context("server failed")
}

/// The name the TCP listener is handed over under.
const LISTENER_NAME: &str = "grpc";

/// `SERVICE=SOCKET`, `AUTHORITY=SOCKET` or `NAME=SOCKET`.
fn route_pair(arg: &str) -> Result<(String, PathBuf), String> {
    match arg.split_once('=') {
        Some((key, path)) if !key.is_empty() && !path.is_empty() => {
            Ok((key.to_owned(), PathBuf::from(path)))
        }
        _ => Err(format!("expected NAME=SOCKET, got {arg:?}")),
    }
}

/// `aqueduct route`'s routes, as given on the command line.
struct RouteTable {
    services: Vec<(String, PathBuf)>,
    authorities: Vec<(String, PathBuf)>,
    server_names: Vec<(String, PathBuf)>,
    without_server_name: Option<PathBuf>,
}

/// `aqueduct route`: the peek-and-route front, until Ctrl-C or SIGTERM.
async fn route(port: u16, table: RouteTable, peek_timeout: Duration) -> anyhow::Result<()> {
    use aqueduct_handoff::route::{FrontConfig, Routes};
    if table.services.is_empty()
        && table.authorities.is_empty()
        && table.server_names.is_empty()
        && table.without_server_name.is_none()
    {
        anyhow::bail!(
            "no routes: give at least one --service SERVICE=SOCKET, --authority AUTHORITY=SOCKET \
             or --server-name NAME=SOCKET"
        );
    }
    let mut routes = Routes::new();
    for (service, socket) in table.services {
        routes = routes.service(&service, socket);
    }
    for (authority, socket) in table.authorities {
        routes = routes.authority(&authority, socket);
    }
    for (name, socket) in table.server_names {
        routes = routes.server_name(&name, socket);
    }
    if let Some(socket) = table.without_server_name {
        routes = routes.without_server_name(socket);
    }
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let stop = aqueduct::shutdown_signal();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener
        .local_addr()
        .with_context(|| format!("cannot read the address of the listener on {addr}"))?;
    println!("aqueduct route listening on {local}");
    let config = FrontConfig { peek_timeout };
    aqueduct_handoff::route::serve(listener, routes, config, stop)
        .await
        .with_context(|| format!("aqueduct route on {local} failed"))
}
