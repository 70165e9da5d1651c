//! `bench-compare [--rounds R] [--seconds S] [--quick]`: runs every scenario of the
//! side-by-side comparison against Aqueduct, tonic, connect-rust (its own server,
//! gRPC protocol) and (where it applies) bare h2, alternating the servers run by
//! run, and prints medians and Aqueduct/tonic and Aqueduct/connect-rust ratios as
//! a Markdown table. The client-side rows (6, 7 client) compare the generated
//! clients of Aqueduct and tonic only: connect-rust shows `-` there.
//!
//! Servers run pinned to core 0 and load to core 1 (`taskset`). Needs the release
//! binaries of this crate and of `aqueduct-cli`, `h2load` and `valgrind`; the
//! `benches/run` script builds and installs them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};
use aqueduct_benches::flag;
use aqueduct_benches::harness::{self, Server, num, print_table, row, run_json};

struct Ctx {
    server_bin: PathBuf,
    client_bin: PathBuf,
    cli_bin: PathBuf,
    rounds: usize,
    seconds: f64,
    warmup: f64,
}

/// `bench-server --impl which`, pinned to core 0.
fn start(ctx: &Ctx, which: &str, runtime: &str, pin: bool) -> anyhow::Result<Server> {
    Server::start(&ctx.server_bin, which, runtime, pin, &[])
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
    let server = start(ctx, which, runtime, true)?;
    let out = load(ctx, &server.target(), args)?;
    server.stop()?;
    keys.iter().map(|k| num(&out, k)).collect()
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

/// [`harness::alternate`] over `ctx.rounds`.
fn alternate(
    ctx: &Ctx,
    impls: &[&str],
    measure: impl FnMut(&str) -> anyhow::Result<Vec<f64>>,
) -> anyhow::Result<BTreeMap<String, Vec<f64>>> {
    harness::alternate(ctx.rounds, impls, measure)
}

fn h2load_rps(ctx: &Ctx, target: &str, body: &std::path::Path) -> anyhow::Result<f64> {
    Ok(harness::h2load(target, ctx.seconds, ctx.warmup, body, None)?.rps)
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
    let server = start(ctx, which, "current", false)?;
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
    // Every server, bare h2 included where the scenario is unary SayHello; the
    // generated servers alone where bare h2 has no such method.
    let servers = ["aqueduct", "tonic", "connect", "h2"];
    let generated = ["aqueduct", "tonic", "connect"];
    // The generated clients (row 6): connect-rust's client is not measured.
    let clients = ["aqueduct", "tonic"];
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
    let m = alternate(&ctx, &servers, |which| {
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
    let m = alternate(&ctx, &servers, |which| {
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
    let body = harness::say_hello_body()?;
    let m = alternate(&ctx, &servers, |which| {
        let s = start(&ctx, which, "current", true)?;
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
    let m = alternate(&ctx, &generated, |which| {
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
    let m = alternate(&ctx, &generated, |which| {
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
    let m = alternate(&ctx, &servers, |which| {
        let s = start(&ctx, which, "current", true)?;
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
    let m = alternate(&ctx, &clients, |which| {
        let s = start(&ctx, "h2", "current", true)?;
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
    for which in servers {
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
    for which in servers {
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
        let s = start(&ctx, which, "current", true)?;
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
