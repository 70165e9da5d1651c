//! `bench-tls [--rounds R] [--seconds S] [--quick] [--only
//! unary,handshakes,mtls,instructions]`: TLS side by side (issue 17). Aqueduct, tonic and bare h2 (the ceiling) serve the Greeter over TLS
//! from the same certificate and key, made once at start with rcgen
//! (`interop::certs`, ECDSA P-256) and loaded by each from the same PEM
//! files, all on rustls with the ring provider. Servers run on core 0
//! (`taskset`, one current-thread runtime), load on core 1; implementations
//! alternate run by run; figures are medians over the rounds.
//!
//! - **Unary over TLS**: `h2load -c 10 -m 10` over `https://` (OpenSSL,
//!   ALPN h2), and the same load in plaintext in the same rounds, so the TLS
//!   ratio is compared with the plaintext ratio of the same run.
//! - **Full handshakes**: a client of this binary's own (`--handshake-client`,
//!   below) connects, completes a full TLS handshake (session resumption
//!   disabled), makes one unary call and closes, 16 connections at a time;
//!   the same client for every server, so only the server differs. Also with
//!   client certificates (mutual TLS). Besides the rate, each server's CPU
//!   time per handshake (from `/proc`), which holds even if the client were
//!   the bottleneck.
//! - **Deterministic**: server instructions per unary call, plaintext and
//!   over TLS, and per full handshake, with and without a client
//!   certificate (callgrind; a large run minus a small one, over the
//!   difference in calls, so startup cancels).
//!
//! `bench-tls --write-pem DIR` writes the certificates a run would make
//! (`ca.pem`, `server.pem`/`.key` for localhost and 127.0.0.1,
//! `client.pem`/`.key`) to `DIR`, for runs by hand.
//!
//! `bench-tls --handshake-client --target HOST:PORT [--seconds S] [--warmup
//! W] [--concurrency C] [--count N] [--cert F --key F] [--ca F]`: the
//! handshake client alone; prints one JSON line. Without `--ca` it does not
//! verify the server's certificate (the server still signs its handshake):
//! verifying costs the client two ECDSA verifications per handshake, more
//! than the server's work, and the client's core would set the rate instead
//! of the server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aqueduct_benches::flag;
use aqueduct_benches::harness::{self, Server, num, print_table, row, run_json};
use bytes::Bytes;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// Connections the handshake client keeps in progress at once.
const HANDSHAKE_CONCURRENCY: usize = 16;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--handshake-client") {
        return aqueduct_benches::exit("bench-tls --handshake-client", handshake_client(&args));
    }
    if let Some(dir) = flag(&args, "write-pem") {
        return aqueduct_benches::exit("bench-tls --write-pem", write_pem(Path::new(&dir)));
    }
    aqueduct_benches::exit("bench-tls", compare(&args))
}

/// The PEM files of one run.
struct Pem {
    /// Removed at the end.
    _dir: interop::certs::TempDir,
    ca: PathBuf,
    server: (PathBuf, PathBuf),
    client: (PathBuf, PathBuf),
}

impl Pem {
    fn new() -> anyhow::Result<Pem> {
        let dir = interop::certs::TempDir::new();
        let pki = interop::certs::TestPki::new("Aqueduct Bench CA");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, pki.ca_pem()).context("writing the CA certificate")?;
        let server = pki
            .server(&["localhost", "127.0.0.1"])
            .write(dir.path(), "server");
        let client = pki
            .client("spiffe://bench.aqueduct/ns/load/sa/client")
            .write(dir.path(), "client");
        Ok(Pem {
            _dir: dir,
            ca,
            server,
            client,
        })
    }
}

/// `--write-pem DIR`: the files a run makes, kept in `DIR`, for runs by hand.
fn write_pem(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let pem = Pem::new()?;
    for (from, name) in [
        (&pem.ca, "ca.pem"),
        (&pem.server.0, "server.pem"),
        (&pem.server.1, "server.key"),
        (&pem.client.0, "client.pem"),
        (&pem.client.1, "client.key"),
    ] {
        std::fs::copy(from, dir.join(name)).with_context(|| format!("writing {name}"))?;
    }
    println!(
        "wrote ca.pem, server.pem, server.key, client.pem, client.key to {}",
        dir.display()
    );
    Ok(())
}

struct Ctx {
    server_bin: PathBuf,
    cli_bin: PathBuf,
    me: PathBuf,
    rounds: usize,
    seconds: f64,
    warmup: f64,
    quick: bool,
    pem: Pem,
}

impl Ctx {
    /// `bench-server --impl which`, over TLS if `tls`, requiring client
    /// certificates if `mtls`; pinned to core 0 unless under callgrind.
    fn server(&self, which: &str, tls: bool, mtls: bool) -> anyhow::Result<Server> {
        let (cert, key) = (s(&self.pem.server.0), s(&self.pem.server.1));
        let mut extra = Vec::new();
        if tls {
            extra.extend(["--tls-cert", cert, "--tls-key", key]);
        }
        if mtls {
            extra.extend(["--client-ca", s(&self.pem.ca)]);
        }
        Server::start(&self.server_bin, which, "current", true, &extra)
    }

    /// The handshake client on core 1 against `server`: (handshakes/s in the
    /// timed part, server CPU microseconds per handshake over the whole run).
    fn handshakes(&self, server: &Server, mtls: bool) -> anyhow::Result<Vec<f64>> {
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", "1"]).arg(&self.me).args([
            "--handshake-client",
            "--target",
            &server.addr,
            "--seconds",
            &self.seconds.to_string(),
            "--warmup",
            &self.warmup.to_string(),
            "--concurrency",
            &HANDSHAKE_CONCURRENCY.to_string(),
        ]);
        if mtls {
            cmd.args([
                "--cert",
                s(&self.pem.client.0),
                "--key",
                s(&self.pem.client.1),
            ]);
        }
        let cpu_before = server.cpu_seconds()?;
        let out = run_json(cmd)?;
        let cpu = server.cpu_seconds()? - cpu_before;
        let total = num(&out, "total")?;
        Ok(vec![
            num(&out, "rate")?,
            cpu * 1e6 / total.max(1.0),
            num(&out, "client_cpu_us_per_handshake")?,
        ])
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// The parts of a run, for `--only` (a comma-separated list of them).
const PARTS: [&str; 4] = ["unary", "handshakes", "mtls", "instructions"];

fn compare(args: &[String]) -> anyhow::Result<()> {
    let quick = args.iter().any(|a| a == "--quick");
    let only = flag(args, "only");
    let parts: Vec<&str> = match &only {
        Some(list) => list.split(',').collect(),
        None => PARTS.to_vec(),
    };
    if let Some(bad) = parts.iter().find(|p| !PARTS.contains(p)) {
        bail!("--only takes {}, not {bad:?}", PARTS.join(","));
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let ctx = Ctx {
        server_bin: here.join("target/release/bench-server"),
        cli_bin: here.join("../target/release/aqueduct"),
        me: std::env::current_exe().context("this binary's path")?,
        rounds: flag(args, "rounds").map_or(Ok(if quick { 1 } else { 5 }), |v| v.parse())?,
        seconds: flag(args, "seconds").map_or(Ok(if quick { 1.0 } else { 4.0 }), |v| v.parse())?,
        warmup: if quick { 0.5 } else { 1.0 },
        quick,
        pem: Pem::new()?,
    };
    for bin in [&ctx.server_bin, &ctx.cli_bin] {
        if !bin.exists() {
            bail!(
                "{} is missing: run benches/run, which builds it",
                bin.display()
            );
        }
    }
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    if parts.contains(&"unary") {
        eprintln!("== TLS 1. unary from h2load, TLS and plaintext in the same rounds");
        let (negotiated, plain_ratio) = unary(&ctx, &mut rows)?;
        notes.push(format!(
            "h2load negotiated {}; the plaintext h2load ratio of the same rounds, {plain_ratio:.2}, is T1's target",
            negotiated.as_deref().unwrap_or("-")
        ));
    }
    for (part, mtls) in [("handshakes", false), ("mtls", true)] {
        if parts.contains(&part) {
            if mtls {
                eprintln!("== TLS 3. full handshakes with client certificates (mutual TLS)");
            } else {
                eprintln!("== TLS 2. full handshakes: connect, handshake, one unary call, close");
            }
            let client_cpu = handshakes(&ctx, mtls, &mut rows)?;
            notes.push(format!(
                "the handshake client's CPU per connection{} (core 1, no certificate verification): {client_cpu:.0} us",
                if mtls { " with a client certificate" } else { "" }
            ));
        }
    }
    if parts.contains(&"instructions") {
        eprintln!("== TLS 4. server instructions (callgrind)");
        instructions(&ctx, &mut rows)?;
    }
    println!(
        "\nTLS (issue 17): rounds {}, {} s per run after {} s warm-up; medians; server on core 0, load on core 1\n",
        ctx.rounds, ctx.seconds, ctx.warmup
    );
    print_table(&rows);
    println!();
    for note in notes {
        println!("- {note}");
    }
    println!("\ntotal time {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// T1: h2load over TLS and in plaintext, alternating all six; returns what
/// h2load negotiated and the plaintext ratio.
fn unary(ctx: &Ctx, rows: &mut Vec<harness::Row>) -> anyhow::Result<(Option<String>, f64)> {
    let body = harness::say_hello_body()?;
    let configs = [
        "aqueduct tls",
        "tonic tls",
        "h2 tls",
        "aqueduct plain",
        "tonic plain",
        "h2 plain",
    ];
    let mut negotiated = None;
    let m = harness::alternate(ctx.rounds, &configs, |config| {
        let (which, mode) = config.split_once(' ').context("config")?;
        let tls = mode == "tls";
        let server = ctx.server(which, tls, false)?;
        let target = if tls {
            format!("https://{}", server.addr)
        } else {
            server.target()
        };
        let run = harness::h2load(&target, ctx.seconds, ctx.warmup, &body, Some(&server))?;
        server.stop()?;
        if run.tls.is_some() {
            negotiated = run.tls;
        }
        Ok(vec![run.rps, run.server_cpu_us.unwrap_or(f64::NAN)])
    })?;
    let split = |mode: &str| -> BTreeMap<String, Vec<f64>> {
        m.iter()
            .filter_map(|(k, v)| {
                let (which, m) = k.split_once(' ')?;
                (m == mode).then(|| (which.to_owned(), v.clone()))
            })
            .collect()
    };
    let (tls_m, plain_m) = (split("tls"), split("plain"));
    let ratio_at = |m: &BTreeMap<String, Vec<f64>>, i: usize| {
        let get = |k: &str| m.get(k).and_then(|v| v.get(i)).copied().unwrap_or(f64::NAN);
        get("aqueduct") / get("tonic")
    };
    let plain_ratio = ratio_at(&plain_m, 0);
    rows.push(row(
        "T1. unary 16 B over TLS, `h2load -c 10 -m 10`",
        "calls/s",
        &tls_m,
        0,
        Some((plain_ratio, true)),
    ));
    rows.push(row(
        "T1. the same in plaintext, same rounds",
        "calls/s",
        &plain_m,
        0,
        None,
    ));
    rows.push(row(
        "T1. server CPU per call over TLS (from /proc)",
        "us",
        &tls_m,
        1,
        Some((ratio_at(&plain_m, 1), false)),
    ));
    rows.push(row(
        "T1. server CPU per call in plaintext",
        "us",
        &plain_m,
        1,
        None,
    ));
    Ok((negotiated, plain_ratio))
}

/// T2 (T3 with `mtls`): full handshakes from the handshake client,
/// alternating the three servers; returns the client's least CPU per
/// connection.
fn handshakes(ctx: &Ctx, mtls: bool, rows: &mut Vec<harness::Row>) -> anyhow::Result<f64> {
    let m = harness::alternate(ctx.rounds, &["aqueduct", "tonic", "h2"], |which| {
        let server = ctx.server(which, true, mtls)?;
        let v = ctx.handshakes(&server, mtls)?;
        server.stop()?;
        Ok(v)
    })?;
    let (label, what) = if mtls {
        ("T3", "mutual TLS handshakes")
    } else {
        ("T2", "full TLS handshakes")
    };
    rows.push(row(
        &format!("{label}. {what} + 1 call, {HANDSHAKE_CONCURRENCY} at once"),
        "connections/s",
        &m,
        0,
        Some((1.0, true)),
    ));
    rows.push(row(
        &format!("{label}. server CPU per connection (from /proc)"),
        "us",
        &m,
        1,
        Some((1.0, false)),
    ));
    Ok(m.values()
        .filter_map(|v| v.get(2).copied())
        .fold(f64::NAN, f64::min))
}

/// T4: server instructions (callgrind), each figure a large run minus a
/// small one over the difference in calls or connections.
fn instructions(ctx: &Ctx, rows: &mut Vec<harness::Row>) -> anyhow::Result<()> {
    let (c1, c2) = if ctx.quick { (200, 600) } else { (1000, 3000) };
    let (h1, h2) = if ctx.quick { (50, 150) } else { (200, 600) };
    let scenarios = [
        (
            "T4. server instructions per unary call, plaintext",
            Load::Unary(c1, false),
            Load::Unary(c2, false),
            None,
        ),
        (
            "T4. server instructions per unary call over TLS",
            Load::Unary(c1, true),
            Load::Unary(c2, true),
            None,
        ),
        (
            "T4. server instructions per full handshake + 1 call",
            Load::Handshakes(h1, false),
            Load::Handshakes(h2, false),
            Some((1.0, false)),
        ),
        (
            "T4. the same with a client certificate (mutual TLS)",
            Load::Handshakes(h1, true),
            Load::Handshakes(h2, true),
            Some((1.0, false)),
        ),
    ];
    for (name, small, large, target) in scenarios {
        let mut per = BTreeMap::new();
        for which in ["aqueduct", "tonic", "h2"] {
            let i1 = callgrind(ctx, which, small)?;
            let i2 = callgrind(ctx, which, large)?;
            per.insert(
                which.to_owned(),
                vec![(i2 - i1) / (large.count() - small.count())],
            );
        }
        rows.push(row(name, "instructions", &per, 0, target));
    }
    Ok(())
}

/// What a callgrind run drives the server with.
#[derive(Debug, Clone, Copy)]
enum Load {
    /// Unary calls from `aqueduct bench` over one connection, 10 in flight;
    /// over TLS if `.1`.
    Unary(u32, bool),
    /// Connections from the handshake client, each a full handshake and a
    /// call; with client certificates if `.1`.
    Handshakes(u32, bool),
}

impl Load {
    fn count(self) -> f64 {
        match self {
            Load::Unary(n, _) | Load::Handshakes(n, _) => f64::from(n),
        }
    }
}

/// The server's instruction count (callgrind) under `load`.
fn callgrind(ctx: &Ctx, which: &str, load: Load) -> anyhow::Result<f64> {
    let out_file = std::env::temp_dir().join(format!(
        "aqueduct-cg-tls-{which}-{load:?}-{}.out",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&out_file);
    let mut cmd = Command::new("valgrind");
    cmd.args(["--tool=callgrind", "--quiet"])
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(&ctx.server_bin)
        .args(["--impl", which, "--runtime", "current"]);
    if !matches!(load, Load::Unary(_, false)) {
        cmd.args([
            "--tls-cert",
            s(&ctx.pem.server.0),
            "--tls-key",
            s(&ctx.pem.server.1),
        ]);
    }
    if matches!(load, Load::Handshakes(_, true)) {
        cmd.args(["--client-ca", s(&ctx.pem.ca)]);
    }
    let server = Server::spawn(cmd)?;
    let mut client = match load {
        Load::Unary(calls, tls) => {
            let mut c = Command::new(&ctx.cli_bin);
            c.arg("bench");
            if tls {
                c.args(["--target", &format!("https://{}", server.addr)])
                    .args(["--ca-file", s(&ctx.pem.ca)]);
            } else {
                c.args(["--target", &server.target()]);
            }
            c.args(["--threads", "1", "--json", "--quiet", "--timeout", "120"])
                .args(["--requests", &calls.to_string(), "--concurrency", "10"]);
            c
        }
        Load::Handshakes(n, mtls) => {
            let mut c = Command::new(&ctx.me);
            c.args(["--handshake-client", "--target", &server.addr])
                .args(["--count", &n.to_string(), "--concurrency", "4"]);
            if mtls {
                c.args([
                    "--cert",
                    s(&ctx.pem.client.0),
                    "--key",
                    s(&ctx.pem.client.1),
                ]);
            }
            c
        }
    };
    client.env_remove("RUST_LOG");
    run_json(client)?;
    server.stop()?;
    let text = std::fs::read_to_string(&out_file).context("callgrind output")?;
    let _ = std::fs::remove_file(&out_file);
    let total = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .context("no callgrind summary")?;
    Ok(total.parse()?)
}

// ---- the handshake client ------------------------------------------------

/// A verifier that accepts any server certificate and signature: the bench
/// client measures servers, and verifying would make its own core the limit.
/// Never outside a benchmark.
#[derive(Debug)]
struct AcceptAnyServer(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The client's rustls config: ring, TLS 1.3 and 1.2, ALPN h2, no session
/// resumption (every handshake full), a client certificate if given, and
/// server verification only with `ca`.
fn client_config(
    ca: Option<&str>,
    identity: Option<(&str, &str)>,
) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca).with_context(|| format!("--ca {ca}"))? {
                roots.add(cert?)?;
            }
            builder.with_root_certificates(roots)
        }
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider))),
    };
    let mut config = match identity {
        Some((cert, key)) => builder.with_client_auth_cert(
            CertificateDer::pem_file_iter(cert)
                .with_context(|| format!("--cert {cert}"))?
                .collect::<Result<Vec<_>, _>>()?,
            PrivateKeyDer::from_pem_file(key).with_context(|| format!("--key {key}"))?,
        )?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}

/// What the handshake client's connections share.
struct Shared {
    addr: String,
    connector: tokio_rustls::TlsConnector,
    request: Bytes,
    stop: AtomicBool,
    /// Connections started, against `--count`.
    started: AtomicU64,
    limit: u64,
    /// Connections that completed, in all and since the warm-up ended.
    total: AtomicU64,
    measured: AtomicU64,
    measuring: AtomicBool,
    errors: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

fn handshake_client(args: &[String]) -> anyhow::Result<()> {
    let addr = flag(args, "target").context("--target HOST:PORT")?;
    let seconds: f64 = flag(args, "seconds").map_or(Ok(3.0), |v| v.parse())?;
    let warmup: f64 = flag(args, "warmup").map_or(Ok(0.5), |v| v.parse())?;
    let concurrency: usize = flag(args, "concurrency").map_or(Ok(16), |v| v.parse())?;
    let count: Option<u64> = flag(args, "count").map(|v| v.parse()).transpose()?;
    let (cert, key) = (flag(args, "cert"), flag(args, "key"));
    let identity = match (&cert, &key) {
        (Some(c), Some(k)) => Some((c.as_str(), k.as_str())),
        (None, None) => None,
        _ => bail!("--cert and --key go together"),
    };
    let config = client_config(flag(args, "ca").as_deref(), identity)?;
    let request = {
        let msg = prost::Message::encode_to_vec(&helloworld::pb::SayHelloRequest {
            name: "x".repeat(16),
        });
        let mut framed = vec![0u8];
        framed.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        framed.extend_from_slice(&msg);
        Bytes::from(framed)
    };
    let shared = Arc::new(Shared {
        addr,
        connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        request,
        stop: AtomicBool::new(false),
        started: AtomicU64::new(0),
        limit: count.unwrap_or(u64::MAX),
        total: AtomicU64::new(0),
        measured: AtomicU64::new(0),
        // With --count every connection counts.
        measuring: AtomicBool::new(count.is_some()),
        errors: AtomicU64::new(0),
        first_error: std::sync::Mutex::new(None),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (elapsed, latencies) = runtime.block_on(async {
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..concurrency.max(1) {
            workers.spawn(worker(shared.clone()));
        }
        let mut measure_start = Instant::now();
        if count.is_none() {
            tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
            measure_start = Instant::now();
            shared.measuring.store(true, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            shared.measuring.store(false, Ordering::Relaxed);
            shared.stop.store(true, Ordering::Relaxed);
        }
        let elapsed = measure_start.elapsed();
        let mut latencies = Vec::new();
        while let Some(done) = workers.join_next().await {
            latencies.extend(done.unwrap_or_default());
        }
        (elapsed, latencies)
    });
    let measured = shared.measured.load(Ordering::Relaxed);
    let total = shared.total.load(Ordering::Relaxed);
    let errors = shared.errors.load(Ordering::Relaxed);
    let first_error = shared
        .first_error
        .lock()
        .map(|e| e.clone())
        .unwrap_or_default();
    if let Some(error) = first_error.filter(|_| errors > 0) {
        bail!(
            "{errors} of {} connections failed; the first: {error}",
            total + errors
        );
    }
    let p50 = if latencies.is_empty() {
        0
    } else {
        aqueduct_benches::median(latencies)
    };
    let client_cpu = harness::cpu_seconds_of("self")?;
    println!(
        "{{\"total\":{total},\"measured\":{measured},\"seconds\":{:.3},\"rate\":{:.1},\"p50_us\":{p50},\"client_cpu_us_per_handshake\":{:.1}}}",
        elapsed.as_secs_f64(),
        measured as f64 / elapsed.as_secs_f64().max(1e-9),
        client_cpu * 1e6 / total.max(1) as f64
    );
    Ok(())
}

/// Connections one after another until told to stop; the microseconds each
/// measured one took.
async fn worker(shared: Arc<Shared>) -> Vec<u64> {
    let mut latencies = Vec::new();
    while !shared.stop.load(Ordering::Relaxed)
        && shared.started.fetch_add(1, Ordering::Relaxed) < shared.limit
    {
        let began = Instant::now();
        let measuring = shared.measuring.load(Ordering::Relaxed);
        match one_connection(&shared).await {
            Ok(()) => {
                shared.total.fetch_add(1, Ordering::Relaxed);
                if measuring && shared.measuring.load(Ordering::Relaxed) {
                    shared.measured.fetch_add(1, Ordering::Relaxed);
                    latencies.push(began.elapsed().as_micros() as u64);
                }
            }
            Err(e) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = shared.first_error.lock() {
                    first.get_or_insert_with(|| format!("{e:#}"));
                }
                // Stop instead of spinning on a server that refuses.
                shared.stop.store(true, Ordering::Relaxed);
            }
        }
    }
    latencies
}

/// TCP connect, a full TLS handshake, one SayHello over HTTP/2, and close
/// (GOAWAY, TLS close_notify, FIN).
async fn one_connection(shared: &Shared) -> anyhow::Result<()> {
    let tcp = tokio::net::TcpStream::connect(&shared.addr)
        .await
        .with_context(|| format!("connecting to {}", shared.addr))?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from("localhost")?;
    let tls = shared
        .connector
        .connect(name, tcp)
        .await
        .context("TLS handshake")?;
    if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
        bail!("the server did not choose ALPN h2");
    }
    let (client, connection) = h2::client::handshake(tls).await?;
    let call = async move {
        let mut client = client.ready().await?;
        let request = http::Request::builder()
            .method("POST")
            .uri("https://localhost/helloworld.v1.GreeterService/SayHello")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())?;
        let (response, mut send) = client.send_request(request, false)?;
        send.send_data(shared.request.clone(), true)?;
        let response = response.await?;
        if response.status() != http::StatusCode::OK {
            bail!("HTTP status {}", response.status());
        }
        let mut body = response.into_body();
        while let Some(chunk) = body.data().await {
            let chunk = chunk?;
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        let status = body
            .trailers()
            .await?
            .and_then(|t| t.get("grpc-status").cloned());
        if status.as_ref().map(http::HeaderValue::as_bytes) != Some(b"0") {
            bail!("grpc-status {status:?}");
        }
        // `client` drops here: with no handle left the connection closes.
        anyhow::Ok(())
    };
    let (called, closed) = tokio::join!(call, connection);
    called?;
    closed.context("closing")?;
    Ok(())
}
