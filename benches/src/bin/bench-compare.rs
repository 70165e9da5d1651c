//! `bench-compare [--rounds R] [--seconds S] [--quick]`: runs every scenario of the
//! side-by-side comparison against Aqueduct, tonic and (where it applies) bare h2,
//! alternating the servers run by run, and prints medians and Aqueduct/tonic ratios
//! as a Markdown table.
//!
//! Servers run pinned to core 0 and load to core 1 (`taskset`). Needs the release
//! binaries of this crate and of `aqueduct-cli`, `h2load` and `valgrind`; the
//! `benches/run` script builds and installs them.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aqueduct_benches::flag;

struct Ctx {
    server_bin: PathBuf,
    client_bin: PathBuf,
    cli_bin: PathBuf,
    rounds: usize,
    seconds: f64,
    warmup: f64,
}

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(ctx: &Ctx, which: &str, runtime: &str, pin: bool) -> anyhow::Result<Server> {
        let mut cmd = if pin {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(&ctx.server_bin);
            c
        } else {
            Command::new(&ctx.server_bin)
        };
        cmd.args(["--impl", which, "--runtime", runtime, "--threads", "1"]);
        Self::spawn(cmd)
    }

    fn spawn(mut cmd: Command) -> anyhow::Result<Server> {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting server")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let addr = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_owned();
        if addr.is_empty() {
            bail!("server printed no address");
        }
        Ok(Server { child, addr })
    }

    fn target(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS")
    }

    /// SIGINT, wait, and the `allocations N` line the server prints on exit.
    fn stop(mut self) -> anyhow::Result<Option<u64>> {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.wait();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        Ok(err
            .lines()
            .find_map(|l| l.strip_prefix("allocations "))
            .and_then(|n| n.trim().parse().ok()))
    }
}

impl Drop for Server {
    /// A server whose measurement failed half-way must not outlive the harness.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `aqueduct bench` with `args` against a fresh `which` server (pinned to core
/// 0, current-thread runtime unless `runtime` says otherwise) and returns the JSON
/// numbers named by `keys`.
fn load_on(
    ctx: &Ctx,
    which: &str,
    runtime: &str,
    args: &[&str],
    keys: &[&str],
) -> anyhow::Result<Vec<f64>> {
    let server = Server::start(ctx, which, runtime, true)?;
    let out = load(ctx, &server.target(), args)?;
    server.stop()?;
    keys.iter().map(|k| num(&out, k)).collect()
}

/// The number after `"key":` in a flat JSON object.
fn num(json: &str, key: &str) -> anyhow::Result<f64> {
    let pat = format!("\"{key}\":");
    let at = json
        .find(&pat)
        .with_context(|| format!("{key} missing in {json}"))?
        + pat.len();
    let rest = &json[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))
        .unwrap_or(rest.len());
    Ok(rest[..end].parse()?)
}

fn run_json(mut cmd: Command) -> anyhow::Result<String> {
    let out = cmd.output().context("running load")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

fn load(ctx: &Ctx, target: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "1"]).arg(&ctx.cli_bin).args([
        "bench",
        "--target",
        target,
        "--threads",
        "1",
        "--json",
        "--quiet",
    ]);
    cmd.args([
        "--warmup",
        &ctx.warmup.to_string(),
        "--duration",
        &ctx.seconds.to_string(),
    ]);
    cmd.args(args);
    run_json(cmd)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs `measure` for each implementation, `rounds` times, rotating the order each
/// round, and returns the medians.
fn alternate(
    ctx: &Ctx,
    impls: &[&str],
    mut measure: impl FnMut(&str) -> anyhow::Result<Vec<f64>>,
) -> anyhow::Result<BTreeMap<String, Vec<f64>>> {
    let mut samples: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
    for round in 0..ctx.rounds {
        for i in 0..impls.len() {
            let which = impls[(i + round) % impls.len()];
            let values = measure(which).with_context(|| format!("measuring {which}"))?;
            let slots = samples
                .entry(which.to_owned())
                .or_insert_with(|| vec![Vec::new(); values.len()]);
            for (slot, v) in slots.iter_mut().zip(values) {
                slot.push(v);
            }
        }
    }
    Ok(samples
        .into_iter()
        .map(|(k, mut v)| (k, v.iter_mut().map(|s| median(s)).collect()))
        .collect())
}

/// One row of the result table.
struct Row {
    scenario: String,
    unit: &'static str,
    values: BTreeMap<String, f64>,
    /// The ratio target and whether higher is better.
    target: Option<(f64, bool)>,
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v >= 1000.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn print_table(rows: &[Row]) {
    println!("| scenario | unit | aqueduct | tonic | bare h2 | aqueduct/tonic | target | met |");
    println!("|---|---|---:|---:|---:|---:|---|---|");
    for r in rows {
        let get = |k: &str| r.values.get(k).copied().unwrap_or(f64::NAN);
        let (a, t, h) = (get("aqueduct"), get("tonic"), get("h2"));
        let ratio = a / t;
        let (target, met) = match r.target {
            Some((x, true)) => (format!(">= {x}"), if ratio >= x { "yes" } else { "no" }),
            Some((x, false)) => (format!("<= {x}"), if ratio <= x { "yes" } else { "no" }),
            None => ("-".into(), "-"),
        };
        println!(
            "| {} | {} | {} | {} | {} | {:.2} | {} | {} |",
            r.scenario,
            r.unit,
            fmt_value(a),
            fmt_value(t),
            fmt_value(h),
            ratio,
            target,
            met
        );
    }
}

fn row(
    scenario: &str,
    unit: &'static str,
    medians: &BTreeMap<String, Vec<f64>>,
    idx: usize,
    target: Option<(f64, bool)>,
) -> Row {
    Row {
        scenario: scenario.into(),
        unit,
        values: medians
            .iter()
            .map(|(k, v)| (k.clone(), v.get(idx).copied().unwrap_or(f64::NAN)))
            .collect(),
        target,
    }
}

fn h2load_rps(ctx: &Ctx, target: &str, body: &std::path::Path) -> anyhow::Result<f64> {
    let url = format!("{target}/helloworld.v1.GreeterService/SayHello");
    let out = Command::new("taskset")
        .args(["-c", "1", "h2load", "-c", "10", "-m", "10", "-t", "1"])
        .args(["-D", &format!("{}", ctx.seconds.ceil() as u64)])
        .args([
            "--warm-up-time",
            &format!("{}", ctx.warmup.ceil().max(1.0) as u64),
        ])
        .arg("-d")
        .arg(body)
        .args([
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
            &url,
        ])
        .output()
        .context("running h2load (apt-get install nghttp2-client)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("finished in"))
        .with_context(|| format!("h2load output: {text}"))?;
    let rps = line
        .split(',')
        .nth(1)
        .and_then(|s| s.trim().strip_suffix(" req/s"))
        .context("req/s")?;
    if !text.contains(" 0 failed") {
        bail!("h2load saw failures: {text}");
    }
    Ok(rps.trim().parse()?)
}

/// Opens `n` idle HTTP/2 connections and waits until the server has answered a
/// PING on each, so their state exists on the server side.
fn idle_connections(
    addr: &str,
    n: usize,
) -> anyhow::Result<(tokio::runtime::Runtime, Vec<tokio::task::JoinHandle<()>>)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handles = rt.block_on(async {
        let mut handles = Vec::new();
        for _ in 0..n {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            let (client, mut conn) = h2::client::handshake(tcp).await?;
            let mut ping = conn.ping_pong().context("ping_pong")?;
            let driver = tokio::spawn(async move {
                let _keep = client;
                let _ = conn.await;
            });
            ping.ping(h2::Ping::opaque()).await?;
            handles.push(driver);
        }
        anyhow::Ok(handles)
    })?;
    Ok((rt, handles))
}

fn callgrind_instructions(ctx: &Ctx, which: &str, calls: u64) -> anyhow::Result<f64> {
    let out_file = std::env::temp_dir().join(format!("aqueduct-cg-{which}-{calls}.out"));
    let _ = std::fs::remove_file(&out_file);
    let mut cmd = Command::new("valgrind");
    cmd.args(["--tool=callgrind", "--quiet"])
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(&ctx.server_bin)
        .args(["--impl", which, "--runtime", "current"]);
    let server = Server::spawn(cmd)?;
    let mut load = Command::new(&ctx.cli_bin);
    load.args([
        "bench",
        "--target",
        &server.target(),
        "--threads",
        "1",
        "--json",
        "--quiet",
    ])
    .args([
        "--requests",
        &calls.to_string(),
        "--concurrency",
        "10",
        "--timeout",
        "120",
    ]);
    run_json(load)?;
    server.stop()?;
    let text = std::fs::read_to_string(&out_file).context("callgrind output")?;
    let total = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .context("no callgrind summary")?;
    let _ = std::fs::remove_file(&out_file);
    Ok(total.parse()?)
}

fn server_allocations(ctx: &Ctx, which: &str, calls: u64) -> anyhow::Result<f64> {
    let server = Server::start(ctx, which, "current", false)?;
    let mut load = Command::new(&ctx.cli_bin);
    load.args([
        "bench",
        "--target",
        &server.target(),
        "--threads",
        "1",
        "--json",
        "--quiet",
    ])
    .args(["--requests", &calls.to_string(), "--concurrency", "10"]);
    run_json(load)?;
    Ok(server
        .stop()?
        .context("server printed no allocation count")? as f64)
}

fn main() -> std::process::ExitCode {
    aqueduct_benches::exit("bench-compare", run())
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let ctx = Ctx {
        server_bin: here.join("target/release/bench-server"),
        client_bin: here.join("target/release/bench-client"),
        cli_bin: here.join("../target/release/aqueduct"),
        rounds: flag(&args, "rounds").map_or(Ok(if quick { 1 } else { 3 }), |v| v.parse())?,
        seconds: flag(&args, "seconds").map_or(Ok(if quick { 1.0 } else { 4.0 }), |v| v.parse())?,
        warmup: if quick { 0.5 } else { 1.0 },
    };
    for bin in [&ctx.server_bin, &ctx.client_bin, &ctx.cli_bin] {
        if !bin.exists() {
            bail!(
                "{} is missing: run benches/run, which builds it",
                bin.display()
            );
        }
    }
    let started = Instant::now();
    let three = ["aqueduct", "tonic", "h2"];
    let two = ["aqueduct", "tonic"];
    let mut rows = Vec::new();
    let unary = [
        "--call",
        "greeter-unary",
        "--payload",
        "16",
        "--connections",
        "10",
        "--concurrency",
        "100",
    ];

    eprintln!("== 1. unary, small messages, server on one core");
    let m = alternate(&ctx, &three, |which| {
        load_on(&ctx, which, "current", &unary, &["rps"])
    })?;
    rows.push(row(
        "1. unary 16 B, 10 conns x 10 streams, `aqueduct bench`",
        "calls/s",
        &m,
        0,
        Some((1.5, true)),
    ));
    let saturation = m
        .get("aqueduct")
        .and_then(|v| v.first())
        .copied()
        .unwrap_or(f64::NAN)
        .min(
            m.get("tonic")
                .and_then(|v| v.first())
                .copied()
                .unwrap_or(f64::NAN),
        );
    let rate = (saturation * 0.5).max(100.0).round();
    let rate_s = rate.to_string();
    let m = alternate(&ctx, &three, |which| {
        let mut args = unary.to_vec();
        args.extend(["--rate", rate_s.as_str()]);
        load_on(&ctx, which, "current", &args, &["p50", "p99"])
    })?;
    rows.push(row(
        &format!("1. unary latency p50 at {rate} calls/s"),
        "us",
        &m,
        0,
        None,
    ));
    rows.push(row(
        &format!("1. unary latency p99 at {rate} calls/s"),
        "us",
        &m,
        1,
        Some((0.8, false)),
    ));

    eprintln!("== 2. unary from h2load");
    let body = std::env::temp_dir().join("aqueduct-bench-body.bin");
    std::fs::write(&body, {
        let msg = prost::Message::encode_to_vec(&helloworld::pb::SayHelloRequest {
            name: "x".repeat(16),
        });
        let mut b = vec![0u8];
        b.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        b.extend_from_slice(&msg);
        b
    })?;
    let m = alternate(&ctx, &three, |which| {
        let s = Server::start(&ctx, which, "current", true)?;
        let rps = h2load_rps(&ctx, &s.target(), &body)?;
        s.stop()?;
        Ok(vec![rps])
    })?;
    rows.push(row(
        "2. unary 16 B, `h2load -c 10 -m 10`",
        "calls/s",
        &m,
        0,
        Some((1.5, true)),
    ));

    eprintln!("== 3. server streaming");
    let m = alternate(&ctx, &two, |which| {
        load_on(
            &ctx,
            which,
            "current",
            &[
                "--call",
                "greeter-stream",
                "--stream-messages",
                "1000",
                "--concurrency",
                "10",
            ],
            &["messages_per_s"],
        )
    })?;
    rows.push(row(
        "3. server streaming, 1000 small messages per call",
        "messages/s",
        &m,
        0,
        Some((1.5, true)),
    ));

    eprintln!("== 4. unary, 1 MiB messages");
    let m = alternate(&ctx, &two, |which| {
        let v = load_on(
            &ctx,
            which,
            "current",
            &[
                "--call",
                "greeter-unary",
                "--payload",
                "1048576",
                "--concurrency",
                "4",
            ],
            &["rps"],
        )?;
        Ok(vec![v[0] * 1.048576])
    })?;
    rows.push(row(
        "4. unary 1 MiB each way",
        "MB/s (one way)",
        &m,
        0,
        Some((1.0, true)),
    ));

    eprintln!("== 5. idle memory per connection");
    let conns = if quick { 200 } else { 1000 };
    let m = alternate(&ctx, &three, |which| {
        let s = Server::start(&ctx, which, "current", true)?;
        let (_rt0, _warm) = idle_connections(&s.addr, 1)?;
        let before = s.rss_kib()?;
        let (_rt, _held) = idle_connections(&s.addr, conns)?;
        let after = s.rss_kib()?;
        s.stop()?;
        Ok(vec![(after.saturating_sub(before)) as f64 / conns as f64])
    })?;
    rows.push(row(
        &format!("5. server RSS per idle connection ({conns} open)"),
        "KiB",
        &m,
        0,
        Some((0.7, false)),
    ));

    eprintln!("== 6. client side, against the bare h2 server");
    let m = alternate(&ctx, &two, |which| {
        let s = Server::start(&ctx, "h2", "current", true)?;
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", "1"])
            .arg(&ctx.client_bin)
            .args(["--impl", which, "--target", &s.target()]);
        cmd.args([
            "--connections",
            "10",
            "--concurrency",
            "100",
            "--seconds",
            &ctx.seconds.to_string(),
        ]);
        let out = run_json(cmd)?;
        s.stop()?;
        Ok(vec![num(&out, "rps")?, num(&out, "allocations_per_call")?])
    })?;
    rows.push(row(
        "6. generated client, unary 16 B",
        "calls/s",
        &m,
        0,
        None,
    ));
    rows.push(row(
        "7. client heap allocations per unary call",
        "allocations",
        &m,
        1,
        Some((0.5, false)),
    ));

    eprintln!("== 7. server cost per call (deterministic)");
    let (n1, n2) = if quick { (500, 1500) } else { (2000, 8000) };
    let mut allocs = BTreeMap::new();
    for which in three {
        let a1 = server_allocations(&ctx, which, n1)?;
        let a2 = server_allocations(&ctx, which, n2)?;
        allocs.insert(which.to_owned(), vec![(a2 - a1) / (n2 - n1) as f64]);
    }
    rows.push(row(
        "7. server heap allocations per unary call",
        "allocations",
        &allocs,
        0,
        Some((0.5, false)),
    ));
    let (c1, c2) = if quick { (200, 600) } else { (1000, 3000) };
    let mut instr = BTreeMap::new();
    for which in three {
        let i1 = callgrind_instructions(&ctx, which, c1)?;
        let i2 = callgrind_instructions(&ctx, which, c2)?;
        instr.insert(which.to_owned(), vec![(i2 - i1) / (c2 - c1) as f64]);
    }
    rows.push(row(
        "7. server instructions per unary call (callgrind)",
        "instructions",
        &instr,
        0,
        Some((0.7, false)),
    ));

    eprintln!("== runtime: current-thread vs work-stealing (Aqueduct server, one core)");
    let m = alternate(&ctx, &["current", "multi"], |runtime| {
        load_on(&ctx, "aqueduct", runtime, &unary, &["rps"])
    })?;
    let cur = m
        .get("current")
        .and_then(|v| v.first())
        .copied()
        .unwrap_or(f64::NAN);
    let multi = m
        .get("multi")
        .and_then(|v| v.first())
        .copied()
        .unwrap_or(f64::NAN);

    eprintln!("== interceptors: a chain of three empty ones (Aqueduct server)");
    let m = alternate(&ctx, &["aqueduct", "aqueduct-intercepted"], |which| {
        let s = Server::start(&ctx, which, "current", true)?;
        let rps = h2load_rps(&ctx, &s.target(), &body)?;
        s.stop()?;
        Ok(vec![rps])
    })?;
    let first = |key: &str| {
        m.get(key)
            .and_then(|v| v.first())
            .copied()
            .unwrap_or(f64::NAN)
    };
    let (plain_rps, chain_rps) = (first("aqueduct"), first("aqueduct-intercepted"));
    let chain_instr = {
        let i1 = callgrind_instructions(&ctx, "aqueduct-intercepted", c1)?;
        let i2 = callgrind_instructions(&ctx, "aqueduct-intercepted", c2)?;
        (i2 - i1) / (c2 - c1) as f64
    };
    let plain_instr = instr
        .get("aqueduct")
        .and_then(|v| v.first())
        .copied()
        .unwrap_or(f64::NAN);

    println!(
        "\nrounds {}, {} s per run after {} s warm-up; medians; server on core 0, load on core 1\n",
        ctx.rounds, ctx.seconds, ctx.warmup
    );
    print_table(&rows);
    println!(
        "\nAqueduct server runtime on one core: current-thread {cur:.0} calls/s, work-stealing (1 worker) {multi:.0} calls/s, ratio {:.2}",
        cur / multi
    );
    println!(
        "\nThree empty interceptors (Aqueduct server, `h2load`): {chain_rps:.0} calls/s against {plain_rps:.0} without, {:+.1}% (target: under 5% fewer); {chain_instr:.0} instructions per unary call against {plain_instr:.0} ({:+.0})",
        (chain_rps / plain_rps - 1.0) * 100.0,
        chain_instr - plain_instr
    );
    println!("\ntotal time {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
