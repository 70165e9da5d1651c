//! `bench-carriers [--rounds N] [--seconds S]`: in-process calls side by side.
//!
//! Client and server share one process and one current-thread runtime (one
//! core). For each setup: sequential unary round trips (latency p50/p99 and
//! calls/s), then 64 calls kept in flight (calls/s). Setups alternate round by
//! round; figures are medians over the rounds, and ratios are against tonic over
//! `tokio::io::duplex`, the way tonic runs in-process calls.
//!
//! | setup | what |
//! |---|---|
//! | aqueduct direct | `DirectListener` + `Channel::direct`: call heads and encoded messages, no HTTP/2 |
//! | aqueduct mem | `MemoryListener` + `Channel::memory`: full HTTP/2 over memory pipes |
//! | aqueduct unix | a Unix socket in a temporary directory |
//! | aqueduct tcp | TCP loopback |
//! | tonic duplex | tonic server on `serve_with_incoming` + a duplex connector |

use std::time::{Duration, Instant};

use aqueduct_benches::flag;
use aqueduct_benches::tonic_greeter::TonicGreeter;

/// Calls kept in flight in the concurrent measurement.
const IN_FLIGHT: usize = 64;
/// Per-direction pipe size for tonic's duplex: the same as Aqueduct's memory
/// pipe, so neither side gets a bigger buffer.
const DUPLEX_CAPACITY: usize = aqueduct::transport::memory::DEFAULT_PIPE_CAPACITY;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    AqueductDirect,
    AqueductMem,
    AqueductUnix,
    AqueductTcp,
    TonicDuplex,
}

impl Setup {
    const ALL: [Setup; 5] = [
        Setup::AqueductDirect,
        Setup::AqueductMem,
        Setup::AqueductUnix,
        Setup::AqueductTcp,
        Setup::TonicDuplex,
    ];

    fn label(self) -> &'static str {
        match self {
            Setup::AqueductDirect => "aqueduct, direct",
            Setup::AqueductMem => "aqueduct, memory pipe",
            Setup::AqueductUnix => "aqueduct, Unix socket",
            Setup::AqueductTcp => "aqueduct, TCP loopback",
            Setup::TonicDuplex => "tonic, tokio::io::duplex",
        }
    }
}

/// A connected client of either stack.
#[derive(Clone)]
enum Client {
    Aqueduct(helloworld::pb::greeter_service_client::GreeterServiceClient),
    Tonic(
        aqueduct_benches::tonic_pb::greeter_service_client::GreeterServiceClient<
            tonic::transport::Channel,
        >,
    ),
}

impl Client {
    async fn say_hello(&mut self) -> anyhow::Result<()> {
        match self {
            Client::Aqueduct(c) => {
                let request = helloworld::pb::SayHelloRequest {
                    name: "bench".into(),
                };
                c.say_hello(request).await?;
            }
            Client::Tonic(c) => {
                let request = aqueduct_benches::tonic_pb::SayHelloRequest {
                    name: "bench".into(),
                };
                c.say_hello(request).await?;
            }
        }
        Ok(())
    }
}

/// A server running for one measurement, stopped on drop.
struct Running {
    server: tokio::task::JoinHandle<()>,
    socket_dir: Option<std::path::PathBuf>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(dir) = &self.socket_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn start(setup: Setup) -> anyhow::Result<(Client, Running)> {
    use helloworld::pb::greeter_service_client::GreeterServiceClient;
    use helloworld::pb::greeter_service_server::GreeterServiceServer;
    let aqueduct_server = || {
        aqueduct::Server::builder().add_service(GreeterServiceServer::new(helloworld::MyGreeter))
    };
    let serve =
        |f: std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>>| {
            tokio::spawn(async move {
                if let Err(e) = f.await {
                    eprintln!("server failed: {e}");
                }
            })
        };
    // The Aqueduct setups differ only in how the server listens and the channel
    // dials; each yields its channel, the server task and a directory to remove.
    let (channel, server, socket_dir) = match setup {
        Setup::AqueductDirect => {
            let listener = aqueduct::DirectListener::new();
            let channel = aqueduct::Channel::direct(listener.connector());
            (
                channel,
                serve(Box::pin(aqueduct_server().serve(listener))),
                None,
            )
        }
        Setup::AqueductMem => {
            let listener = aqueduct::MemoryListener::anonymous();
            let channel = aqueduct::Channel::memory(listener.connector());
            (
                channel,
                serve(Box::pin(aqueduct_server().serve(listener))),
                None,
            )
        }
        Setup::AqueductUnix => {
            let dir = std::env::temp_dir().join(format!("bench-carriers-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let path = dir.join("greeter.sock");
            let _ = std::fs::remove_file(&path);
            let listener = tokio::net::UnixListener::bind(&path)?;
            let channel = aqueduct::Channel::from_uri(&format!("unix:{}", path.display()))?;
            (
                channel,
                serve(Box::pin(aqueduct_server().serve(listener))),
                Some(dir),
            )
        }
        Setup::AqueductTcp => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let channel =
                aqueduct::Channel::from_uri(&format!("http://{}", listener.local_addr()?))?;
            (
                channel,
                serve(Box::pin(aqueduct_server().serve(listener))),
                None,
            )
        }
        Setup::TonicDuplex => {
            use aqueduct_benches::tonic_pb::greeter_service_client::GreeterServiceClient as TonicClient;
            use aqueduct_benches::tonic_pb::greeter_service_server::GreeterServiceServer as TonicServer;
            let (client_io, server_io) = tokio::io::duplex(DUPLEX_CAPACITY);
            let incoming = tokio_stream::once(Ok::<_, std::io::Error>(server_io));
            let server = tokio::spawn(async move {
                let served = tonic::transport::Server::builder()
                    .add_service(TonicServer::new(TonicGreeter))
                    .serve_with_incoming(incoming)
                    .await;
                if let Err(e) = served {
                    eprintln!("tonic server failed: {e}");
                }
            });
            let channel = tonic::transport::Endpoint::try_from("http://in-process")?
                .connect_with_connector(DuplexConnector(Some(client_io)))
                .await?;
            let running = Running {
                server,
                socket_dir: None,
            };
            return Ok((Client::Tonic(TonicClient::new(channel)), running));
        }
    };
    let running = Running { server, socket_dir };
    Ok((
        Client::Aqueduct(GreeterServiceClient::new(channel)),
        running,
    ))
}

/// Hands tonic's channel the client end of the duplex, once.
struct DuplexConnector(Option<tokio::io::DuplexStream>);

impl tower_service::Service<http::Uri> for DuplexConnector {
    type Response = hyper_util::rt::TokioIo<tokio::io::DuplexStream>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: http::Uri) -> Self::Future {
        std::future::ready(
            self.0
                .take()
                .map(hyper_util::rt::TokioIo::new)
                .ok_or_else(|| std::io::Error::other("the duplex connection was already used")),
        )
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Sample {
    sequential_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    concurrent_per_s: f64,
}

async fn measure(setup: Setup, seconds: f64) -> anyhow::Result<Sample> {
    let (client, _running) = start(setup).await?;
    let span = Duration::from_secs_f64(seconds);
    // Warm-up: connection, first-call paths.
    let mut c = client.clone();
    for _ in 0..200 {
        c.say_hello().await?;
    }
    let mut latencies = Vec::with_capacity(200_000);
    let start = Instant::now();
    while start.elapsed() < span {
        let t = Instant::now();
        c.say_hello().await?;
        latencies.push(t.elapsed());
    }
    let sequential_per_s = latencies.len() as f64 / start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    let (p50_us, p99_us) = (at(0.50), at(0.99));

    let deadline = Instant::now() + span;
    let mut tasks = tokio::task::JoinSet::new();
    let begun = Instant::now();
    for _ in 0..IN_FLIGHT {
        let mut c = client.clone();
        tasks.spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                c.say_hello().await?;
                n += 1;
            }
            anyhow::Ok(n)
        });
    }
    let mut calls = 0;
    while let Some(done) = tasks.join_next().await {
        calls += done??;
    }
    let concurrent_per_s = calls as f64 / begun.elapsed().as_secs_f64();
    Ok(Sample {
        sequential_per_s,
        p50_us,
        p99_us,
        concurrent_per_s,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() -> std::process::ExitCode {
    aqueduct_benches::exit("bench-carriers", run())
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: usize = flag(&args, "rounds").map_or(Ok(3), |v| v.parse())?;
    anyhow::ensure!(rounds > 0, "--rounds must be at least 1");
    let seconds: f64 = flag(&args, "seconds").map_or(Ok(2.0), |v| v.parse())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut samples: Vec<(Setup, Vec<Sample>)> =
        Setup::ALL.iter().map(|s| (*s, Vec::new())).collect();
    for round in 0..rounds {
        eprintln!("== round {} of {rounds}", round + 1);
        for (setup, taken) in &mut samples {
            taken.push(runtime.block_on(measure(*setup, seconds))?);
        }
    }
    let medians: Vec<(Setup, Sample)> = samples
        .into_iter()
        .map(|(setup, taken)| {
            let pick = |f: fn(&Sample) -> f64| median(taken.iter().map(f).collect());
            let sample = Sample {
                sequential_per_s: pick(|s| s.sequential_per_s),
                p50_us: pick(|s| s.p50_us),
                p99_us: pick(|s| s.p99_us),
                concurrent_per_s: pick(|s| s.concurrent_per_s),
            };
            (setup, sample)
        })
        .collect();
    let tonic = medians
        .iter()
        .find(|(s, _)| *s == Setup::TonicDuplex)
        .map(|(_, m)| *m)
        .unwrap_or_default();
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    println!();
    println!(
        "in-process unary calls, one current-thread runtime; rounds {rounds}, {seconds} s per measurement; medians; ratios against tonic over duplex"
    );
    println!();
    println!(
        "| setup | sequential calls/s | ratio | p50 us | p99 us | {IN_FLIGHT} in flight calls/s | ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (setup, m) in &medians {
        println!(
            "| {} | {:.0} | {:.2} | {:.1} | {:.1} | {:.0} | {:.2} |",
            setup.label(),
            m.sequential_per_s,
            ratio(m.sequential_per_s, tonic.sequential_per_s),
            m.p50_us,
            m.p99_us,
            m.concurrent_per_s,
            ratio(m.concurrent_per_s, tonic.concurrent_per_s),
        );
    }
    Ok(())
}
