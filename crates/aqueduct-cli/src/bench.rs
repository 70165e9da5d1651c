//! `aqueduct bench`: a gRPC load generator.
//!
//! Closed loop by default (each of `--concurrency` workers calls again as soon as its
//! call ends); with `--rate` it is open loop: call *i* is due at `start + i / rate`
//! and its latency is measured from when it was due, so a stalled server shows up
//! in the tail instead of being hidden by fewer requests (no coordinated omission).
//!
//! An `https://` target runs over TLS: `--ca-file` for roots other than the
//! system's, `--cert`/`--key` for mutual TLS, `--server-name` to check a name
//! other than the target's host (see [`crate::tls`]). With
//! `--connection-per-call` every call is then a full TLS handshake.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::{Args, ValueEnum};
use prost::Message as _;
use tokio::time::Instant;

use aqueduct::{Channel, Request, Status};

use crate::raw::{Discard, RawMessage};
use crate::tls::{BenchTls, Dialer};

/// What to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Preset {
    /// `helloworld.v1.GreeterService/SayHello` with a `--payload`-byte name.
    GreeterUnary,
    /// `helloworld.v1.GreeterService/SayHelloStream`, `--stream-messages` replies per call.
    GreeterStream,
    /// `grpc.testing.TestService/UnaryCall`, `--payload` bytes each way.
    TestserviceUnary,
    /// `grpc.testing.TestService/StreamingOutputCall`, `--stream-messages` replies of
    /// `--payload` bytes per call.
    TestserviceStream,
    /// `--method` with the request bytes from `--data-hex`.
    Raw,
}

/// `aqueduct bench` options.
#[derive(Debug, Clone, Args)]
pub(crate) struct BenchArgs {
    /// Server: `http://host:port`, `https://host:port` (TLS: the system's
    /// roots unless --ca-file) or `unix:/path` (TLS too if a TLS flag is
    /// given). TLS flags with an `http://` target are an error.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    target: String,
    #[command(flatten)]
    tls: BenchTls,
    /// What to call.
    #[arg(long, value_enum, default_value_t = Preset::GreeterUnary)]
    call: Preset,
    /// Method path for `--call raw`, as in `/package.Service/Method`.
    #[arg(long)]
    method: Option<String>,
    /// Request bytes (protobuf, hex) for `--call raw`.
    #[arg(long, default_value = "")]
    data_hex: String,
    /// With `--call raw`: the method is server streaming.
    #[arg(long)]
    streaming: bool,
    /// Payload size in bytes, for the presets.
    #[arg(long, default_value_t = 16)]
    payload: usize,
    /// Messages per call, for the streaming presets.
    #[arg(long, default_value_t = 100)]
    stream_messages: u32,
    /// Connections to open (one HTTP/2 connection each).
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Calls in flight at once, spread over the connections.
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// How long to run, in seconds (ignored with `--requests`).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Open a new connection for every call and close it after: measures
    /// connect + handshake + call + close (connection churn, or a front such as
    /// `aqueduct route`). `--connections` is then ignored.
    #[arg(long)]
    connection_per_call: bool,
    /// Stop after this many calls instead of after `--duration`.
    #[arg(long)]
    requests: Option<u64>,
    /// Calls per second in total (open loop); 0 for as fast as possible.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Per-call timeout in seconds.
    #[arg(long, default_value_t = 20.0)]
    timeout: f64,
    /// Runtime worker threads (default: the CPUs this process may run on).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

struct CallSpec {
    path: &'static str,
    request: Bytes,
    streaming: bool,
}

fn call_spec(args: &BenchArgs) -> anyhow::Result<CallSpec> {
    use helloworld::pb as hw;
    use interop::pb as t;
    let payload = args.payload;
    Ok(match args.call {
        Preset::GreeterUnary => CallSpec {
            path: "/helloworld.v1.GreeterService/SayHello",
            request: hw::SayHelloRequest {
                name: "x".repeat(payload),
            }
            .encode_to_vec()
            .into(),
            streaming: false,
        },
        Preset::GreeterStream => CallSpec {
            path: "/helloworld.v1.GreeterService/SayHelloStream",
            request: hw::SayHelloStreamRequest {
                name: "x".repeat(payload),
                count: args.stream_messages,
            }
            .encode_to_vec()
            .into(),
            streaming: true,
        },
        Preset::TestserviceUnary => CallSpec {
            path: "/grpc.testing.TestService/UnaryCall",
            request: t::SimpleRequest {
                response_size: i32::try_from(payload).context("--payload too large")?,
                payload: Some(t::Payload {
                    r#type: 0,
                    body: vec![0; payload],
                }),
                ..Default::default()
            }
            .encode_to_vec()
            .into(),
            streaming: false,
        },
        Preset::TestserviceStream => CallSpec {
            path: "/grpc.testing.TestService/StreamingOutputCall",
            request: t::StreamingOutputCallRequest {
                response_parameters: (0..args.stream_messages)
                    .map(|_| t::ResponseParameters {
                        size: i32::try_from(payload).unwrap_or(i32::MAX),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
            .encode_to_vec()
            .into(),
            streaming: true,
        },
        Preset::Raw => {
            let Some(method) = &args.method else {
                bail!("--call raw needs --method /package.Service/Method");
            };
            if !method.starts_with('/') || method.matches('/').count() != 2 {
                bail!("--method must look like /package.Service/Method, got {method:?}");
            }
            CallSpec {
                path: Box::leak(method.clone().into_boxed_str()),
                request: decode_hex(&args.data_hex)?.into(),
                streaming: args.streaming,
            }
        }
    })
}

fn decode_hex(s: &str) -> anyhow::Result<Vec<u8>> {
    let s = s.trim();
    if s.len() % 2 != 0 {
        bail!("--data-hex must have an even number of digits");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .with_context(|| format!("--data-hex: bad hex at offset {i}"))
        })
        .collect()
}

/// What one worker saw.
#[derive(Default)]
struct Stats {
    /// Latencies in microseconds of the calls that ended OK.
    latencies: Vec<u32>,
    ok: u64,
    messages: u64,
    errors: BTreeMap<String, u64>,
    first_error: Option<Status>,
}

struct Shared {
    spec: CallSpec,
    stop: AtomicBool,
    /// Calls started (or tickets taken, with a rate).
    issued: AtomicU64,
    /// Calls finished, for the progress line.
    finished: AtomicU64,
    limit: u64,
    rate: f64,
    start: Instant,
    measure_from: Instant,
    timeout: Duration,
    /// With `--connection-per-call`: how each call dials anew (over TLS, a
    /// full handshake: each channel has its own TLS session cache).
    per_call: Option<Dialer>,
}

/// Latencies kept per worker at most; counts go on past it.
const MAX_SAMPLES_PER_WORKER: usize = 5_000_000;

async fn worker(channel: Channel, shared: Arc<Shared>) -> Stats {
    let mut stats = Stats::default();
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let ticket = shared.issued.fetch_add(1, Ordering::Relaxed);
        if ticket >= shared.limit {
            break;
        }
        let due = if shared.rate > 0.0 {
            let due = shared.start + Duration::from_secs_f64(ticket as f64 / shared.rate);
            tokio::time::sleep_until(due).await;
            if shared.stop.load(Ordering::Relaxed) {
                break;
            }
            due
        } else {
            Instant::now()
        };
        let request =
            Request::new(RawMessage(shared.spec.request.clone())).with_timeout(shared.timeout);
        // A fresh channel dials on its first call and closes when dropped
        // (the target parsed once already, for the first channels).
        let fresh = shared
            .per_call
            .as_ref()
            .and_then(|dialer| dialer.channel().ok());
        let channel = fresh.as_ref().unwrap_or(&channel);
        let result = if shared.spec.streaming {
            stream_call(channel, shared.spec.path, request).await
        } else {
            channel
                .unary::<RawMessage, Discard>(shared.spec.path, request)
                .await
                .map(|_| 1)
        };
        drop(fresh);
        shared.finished.fetch_add(1, Ordering::Relaxed);
        if due < shared.measure_from {
            continue;
        }
        match result {
            Ok(messages) => {
                stats.ok += 1;
                stats.messages += messages;
                if stats.latencies.len() < MAX_SAMPLES_PER_WORKER {
                    let micros = due.elapsed().as_micros();
                    stats
                        .latencies
                        .push(u32::try_from(micros).unwrap_or(u32::MAX));
                }
            }
            Err(status) => {
                *stats
                    .errors
                    .entry(status.code().name().to_owned())
                    .or_default() += 1;
                stats.first_error.get_or_insert(status);
            }
        }
    }
    stats
}

async fn stream_call(
    channel: &Channel,
    path: &'static str,
    request: Request<RawMessage>,
) -> Result<u64, Status> {
    let mut stream = channel
        .server_streaming::<RawMessage, Discard>(path, request)
        .await?;
    let mut n = 0;
    while stream.message().await?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// The result of a run.
struct Report {
    target: String,
    method: &'static str,
    elapsed: Duration,
    ok: u64,
    messages: u64,
    errors: BTreeMap<String, u64>,
    first_error: Option<Status>,
    percentiles: [(&'static str, u32); 6],
}

impl Report {
    fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn mps(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn json(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "{{\"target\":{:?},\"method\":{:?},\"seconds\":{:.3},\"ok\":{},\"messages\":{},\"rps\":{:.1},\"messages_per_s\":{:.1},\"latency_us\":{{",
            self.target,
            self.method,
            self.elapsed.as_secs_f64(),
            self.ok,
            self.messages,
            self.rps(),
            self.mps()
        );
        for (i, (name, v)) in self.percentiles.iter().enumerate() {
            let _ = write!(s, "{}\"{name}\":{v}", if i == 0 { "" } else { "," });
        }
        s.push_str("},\"errors\":{");
        for (i, (code, n)) in self.errors.iter().enumerate() {
            let _ = write!(s, "{}\"{code}\":{n}", if i == 0 { "" } else { "," });
        }
        s.push_str("}}");
        s
    }

    fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "target    {}  {}", self.target, self.method);
        let _ = writeln!(
            s,
            "calls     {} ok in {:.2} s",
            self.ok,
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(s, "rate      {:.1} calls/s", self.rps());
        if self.messages != self.ok {
            let _ = writeln!(s, "messages  {:.1} messages/s", self.mps());
        }
        let _ = write!(s, "latency  ");
        for (name, v) in &self.percentiles {
            let _ = write!(s, " {name} {}", fmt_micros(*v));
        }
        let _ = writeln!(s);
        if self.errors.is_empty() {
            let _ = writeln!(s, "errors    none");
        } else {
            for (code, n) in &self.errors {
                let _ = writeln!(s, "errors    {code}: {n}");
            }
            if let Some(e) = &self.first_error {
                let _ = writeln!(s, "first     {e}");
            }
        }
        s
    }
}

fn fmt_micros(v: u32) -> String {
    if v >= 10_000 {
        format!("{:.1}ms", f64::from(v) / 1000.0)
    } else {
        format!("{v}us")
    }
}

fn percentiles(mut v: Vec<u32>) -> [(&'static str, u32); 6] {
    v.sort_unstable();
    let at = |q: f64| -> u32 {
        if v.is_empty() {
            return 0;
        }
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v.get(i).copied().unwrap_or(0)
    };
    [
        ("p50", at(0.50)),
        ("p90", at(0.90)),
        ("p99", at(0.99)),
        ("p99.9", at(0.999)),
        ("max", v.last().copied().unwrap_or(0)),
        ("min", v.first().copied().unwrap_or(0)),
    ]
}

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.connections == 0 || args.concurrency == 0 {
        bail!("--connections and --concurrency must be at least 1");
    }
    if args.requests.is_none() && (args.duration.is_nan() || args.duration <= 0.0) {
        bail!("--duration must be positive");
    }
    let spec = call_spec(&args)?;
    let dialer = args.tls.dialer(&args.target)?;
    let channels = (0..args.connections)
        .map(|_| dialer.channel())
        .collect::<Result<Vec<_>, _>>()?;
    for c in &channels {
        c.connect()
            .await
            .with_context(|| format!("cannot connect to {}", args.target))?;
    }
    let start = Instant::now();
    let warmup = Duration::from_secs_f64(args.warmup.max(0.0));
    let shared = Arc::new(Shared {
        spec,
        stop: AtomicBool::new(false),
        issued: AtomicU64::new(0),
        finished: AtomicU64::new(0),
        limit: args.requests.unwrap_or(u64::MAX),
        rate: args.rate.max(0.0),
        start,
        measure_from: start + warmup,
        timeout: Duration::from_secs_f64(args.timeout.max(0.001)),
        per_call: args.connection_per_call.then_some(dialer),
    });
    let mut workers = tokio::task::JoinSet::new();
    for i in 0..args.concurrency {
        let channel = channels[i % channels.len()].clone();
        workers.spawn(worker(channel, shared.clone()));
    }
    if args.requests.is_none() {
        let shared = shared.clone();
        let total = warmup + Duration::from_secs_f64(args.duration);
        tokio::spawn(async move {
            tokio::time::sleep(total).await;
            shared.stop.store(true, Ordering::Relaxed);
        });
    }
    let progress = (!args.quiet).then(|| {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let mut last = 0;
            loop {
                tick.tick().await;
                let done = shared.finished.load(Ordering::Relaxed);
                eprint!(
                    "\r[{:>4.0}s] {done} calls, {} calls/s   ",
                    shared.start.elapsed().as_secs_f64(),
                    done - last
                );
                let _ = std::io::stderr().flush();
                last = done;
            }
        })
    });
    let mut all = Stats::default();
    while let Some(stats) = workers.join_next().await {
        let stats = stats.context("bench worker failed")?;
        all.ok += stats.ok;
        all.messages += stats.messages;
        all.latencies.extend(stats.latencies);
        for (code, n) in stats.errors {
            *all.errors.entry(code).or_default() += n;
        }
        if all.first_error.is_none() {
            all.first_error = stats.first_error;
        }
    }
    let end = Instant::now();
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    let report = Report {
        target: args.target.clone(),
        method: shared.spec.path,
        elapsed: end.saturating_duration_since(shared.measure_from.min(end)),
        ok: all.ok,
        messages: all.messages,
        errors: all.errors,
        first_error: all.first_error,
        percentiles: percentiles(all.latencies),
    };
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.text());
    }
    if report.ok == 0 {
        bail!("no call succeeded");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_percentiles() {
        assert!(decode_hex("0a02hi").is_err());
        assert!(decode_hex("0a0268 69").is_err());
        assert_eq!(decode_hex("0A026869").unwrap(), vec![10, 2, b'h', b'i']);
        let p = percentiles((1..=1000).collect());
        assert_eq!(p[0], ("p50", 500));
        assert_eq!(p[2], ("p99", 990));
        assert_eq!(p[3], ("p99.9", 999));
        assert_eq!(p[4], ("max", 1000));
        assert_eq!(percentiles(Vec::new())[0], ("p50", 0));
    }
}
